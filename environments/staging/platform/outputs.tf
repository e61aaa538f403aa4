output "platform" {
  description = "Everything the staging platform offers its app stacks (published by deploytool as an outputs document after every apply) and deploytool (read from the state object): see modules/platform's outputs."
  value       = module.platform
}
