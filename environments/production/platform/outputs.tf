output "platform" {
  description = "Everything the production platform offers the blue-green app stack (read through terraform_remote_state) and deploytool (read from the state object): see modules/platform's outputs."
  value       = module.platform
}
