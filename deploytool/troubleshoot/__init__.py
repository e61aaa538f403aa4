"""Troubleshooting: the service's logs, its ECS events explained, and the diagnose checklist.

Three tools for the questions people ask when a deploy goes wrong, one module each:

- ``logs``: the service's CloudWatch log events (the platform's log group, the streams under the
  branch's awslogs prefix), newest last; ``read_logs``, ``follow_logs``.
- ``events``: the ECS service's recent events and its stopped tasks, each explained in plain words
  with the likely fix by ``explain`` (the rule table).
- ``diagnose``: a checklist of everything a healthy branch environment needs (service, image,
  target group, security groups, database, execution role, HTTP health), each failure with its fix.

What they share and what the checklist is made of:

- ``locate``: ``Where`` (the environment being looked at and the commands that fix it), the app
  stack's outputs, AWS errors in one line, and the one seam to local mode (``LocalStandIn``).
- ``findings``: ``Finding``, ``Diagnosis`` and their constructors (passed, failed, unavailable,
  not checked).
- ``facts``: what the checklist reads from AWS, once.
- ``image``, ``reachability`` (security groups), ``iam`` (policy evaluation and the execution
  role), ``http``: the checks that are more than a few lines.

Every check result is a ``deploytool.health.CheckResult``. On the AWS emulator no task runs and no
target is registered: checks that need them are ``unavailable`` (never ``pass``) and do not fail
the diagnosis; everything the emulator does know is checked as on AWS.
"""
