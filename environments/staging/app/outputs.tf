output "app" {
  description = "The branch environment (service, task definition, target group, URL, ...): see modules/app-rolling's outputs. deploytool reads its attributes as flat outputs."
  value       = module.app
}
