################################################################################
# Optional: an ACM certificate for the environment's domain and its branch hosts, validated with DNS
# records in the environment's hosted zone (with an existing certificate_arn none of this is created)
################################################################################

resource "aws_acm_certificate" "this" {
  count = local.create_certificate ? 1 : 0

  # The apex serves production's host; the wildcard the branch hosts `<env>-<slug>.<domain>`.
  domain_name               = local.settings.dns.domain
  subject_alternative_names = ["*.${local.settings.dns.domain}"]
  validation_method         = "DNS"

  tags = { Name = local.settings.name }

  lifecycle {
    # A replacement is issued before the listener lets go of the certificate it serves.
    create_before_destroy = true
  }
}

locals {
  # ACM asks for the same record for a name and for its wildcard: one record per distinct name. The
  # domain names are known at plan time (the provider plans them), the records only after apply.
  certificate_validation_records = {
    for dvo in(local.create_certificate ? aws_acm_certificate.this[0].domain_validation_options : []) : trimprefix(dvo.domain_name, "*.") => {
      name   = dvo.resource_record_name
      type   = dvo.resource_record_type
      record = dvo.resource_record_value
    }...
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = local.certificate_validation_records

  zone_id = local.settings.dns.hosted_zone_id
  name    = each.value[0].name
  type    = each.value[0].type
  records = [each.value[0].record]
  ttl     = 60
  # ACM gives a domain the same record for every certificate of the account: a certificate replaced
  # (or requested again after a destroy) finds its record in place.
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = local.create_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}
