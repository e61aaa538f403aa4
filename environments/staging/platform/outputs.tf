output "platform" {
  description = "Everything the staging platform offers its app stacks (read through terraform_remote_state) and deploytool (read from the state object): see modules/platform's outputs."
  value       = module.platform
}
