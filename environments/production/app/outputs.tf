output "app" {
  description = "Both colours, the active one and the routing (services, task definitions, target groups, URL, test route header, ...): see modules/app-blue-green's outputs. deploytool reads its attributes as flat outputs."
  value       = module.app
}
