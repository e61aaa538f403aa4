output "platform" {
  description = "Everything the production platform offers the blue-green app stack (published by deploytool as an outputs document after every apply) and deploytool (read from the state object): see modules/platform's outputs."
  value       = module.platform
}
