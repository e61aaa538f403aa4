"""Security-group reachability: does a TCP port get from one set of security groups to another?

``permits`` reads one group's ingress or egress rules; the two checks ask it for the load balancer
to the service (the container port) and the service to the database (PostgreSQL's port), both
ways: the destination must admit the source, the source must allow egress to the destination.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploytool.aws import Clients
from deploytool.troubleshoot.facts import Facts, db_port, service_ok
from deploytool.troubleshoot.findings import Finding, failed, not_checked, passed
from deploytool.troubleshoot.locate import CONTAINER_PORT, Where, aws_error


def _covers_port(permission: Mapping[str, Any], port: int) -> bool:
    protocol = str(permission.get("IpProtocol", ""))
    if protocol in ("-1", "all"):
        return True
    if protocol not in ("tcp", "6"):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None:
        return True
    return int(low) <= port <= int(high)


def _cidr_covers(cidr: str, vpc_cidr: str | None) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        if vpc_cidr is None:
            return network.prefixlen == 0
        inner = ipaddress.ip_network(vpc_cidr, strict=False)
    except ValueError:
        return False
    return network.version == inner.version and inner.subnet_of(network)  # type: ignore[arg-type]


def permits(
    permissions: Iterable[Mapping[str, Any]], port: int, *, groups: Iterable[str], vpc_cidr: str | None
) -> str | None:
    """How a security group's rules (ingress or egress) let ``port`` through to/from ``groups``:
    the matching group ID or CIDR, or None when no rule does. A CIDR counts when it covers the VPC."""
    wanted = set(groups)
    for permission in permissions:
        if not _covers_port(permission, port):
            continue
        for pair in permission.get("UserIdGroupPairs", []):
            if pair.get("GroupId") in wanted:
                return str(pair["GroupId"])
        for ip_range in permission.get("IpRanges", []):
            cidr = str(ip_range.get("CidrIp", ""))
            if cidr and _cidr_covers(cidr, vpc_cidr):
                return cidr
    return None


def _describe_groups(clients: Clients, group_ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    ids = sorted(set(group_ids))
    if not ids:
        return {}
    groups = clients("ec2").describe_security_groups(GroupIds=ids).get("SecurityGroups", [])
    return {str(g["GroupId"]): g for g in groups}


def _reach(
    groups: Mapping[str, Mapping[str, Any]],
    *,
    sources: tuple[str, Sequence[str]],
    destinations: tuple[str, Sequence[str]],
    port: int,
    vpc_cidr: str | None,
) -> tuple[str | None, str | None]:
    """(how the destinations admit the sources, how the sources allow egress to the destinations).

    ``sources`` and ``destinations`` are (label, group IDs), e.g. ``("service", ["sg-1"])``.
    """
    (source_label, source_ids), (dest_label, dest_ids) = sources, destinations
    ingress = egress = None
    for dest in dest_ids:
        rules = groups.get(dest, {}).get("IpPermissions", [])
        how = permits(rules, port, groups=source_ids, vpc_cidr=vpc_cidr)
        if how:
            ingress = f"{dest_label} {dest} admits tcp/{port} from {how}"
            break
    for src in source_ids:
        rules = groups.get(src, {}).get("IpPermissionsEgress", [])
        how = permits(rules, port, groups=dest_ids, vpc_cidr=vpc_cidr)
        if how:
            egress = f"{source_label} {src} allows tcp/{port} out to {how}"
            break
    return ingress, egress


def check_alb_to_service(where: Where, facts: Facts, clients: Clients) -> Finding:
    """``network.alb``: the load balancer's and the service's groups let the container port through."""
    name = "network.alb"
    if not service_ok(facts) or not facts.service_groups:
        return not_checked(name, "the service or its security groups are missing", "ecs.service")
    port = facts.container_port or CONTAINER_PORT
    alb_groups: list[str] = []
    alb_arn = where.platform.get("alb_arn")
    try:
        if alb_arn:
            balancers = (
                clients("elbv2").describe_load_balancers(LoadBalancerArns=[str(alb_arn)]).get("LoadBalancers", [])
            )
            alb_groups = [str(g) for b in balancers for g in b.get("SecurityGroups", [])]
        if not alb_groups and where.platform.get("alb_security_group_id"):
            alb_groups = [str(where.platform["alb_security_group_id"])]
        if not alb_groups:
            return failed(
                name, "the load balancer has no security group", f"re-apply the platform: {where.platform_command()}"
            )
        groups = _describe_groups(clients, [*alb_groups, *facts.service_groups])
    except (ClientError, BotoCoreError) as exc:
        return failed(name, f"reading security groups failed: {aws_error(exc)}", "check the credentials may read EC2")
    ingress, egress = _reach(
        groups,
        sources=("load balancer", alb_groups),
        destinations=("service", facts.service_groups),
        port=port,
        vpc_cidr=_vpc_cidr(where),
    )
    service_groups = ", ".join(facts.service_groups)
    if ingress is None:
        return failed(
            name,
            f"the service's security group ({service_groups}) does not admit tcp/{port} from the load balancer "
            f"({', '.join(alb_groups)}): health checks and requests time out",
            f"re-apply the app stack (it owns the rule from the load balancer): {where.command('apply', '--yes')}",
        )
    if egress is None:
        return failed(
            name,
            f"the load balancer's security group ({', '.join(alb_groups)}) allows no tcp/{port} out to the service",
            f"re-apply the platform (the load balancer's egress to the VPC): {where.platform_command()}",
        )
    return passed(name, f"{ingress}; {egress}")


def check_service_to_db(where: Where, facts: Facts, clients: Clients) -> Finding:
    """``network.db``: the service's and the database's groups let PostgreSQL's port through."""
    name = "network.db"
    if not service_ok(facts) or not facts.service_groups:
        return not_checked(name, "the service or its security groups are missing", "ecs.service")
    db_groups = [
        str(g["VpcSecurityGroupId"])
        for g in (facts.db_instance or {}).get("VpcSecurityGroups", [])
        if g.get("VpcSecurityGroupId")
    ]
    if not db_groups and where.platform.get("db_security_group_id"):
        db_groups = [str(where.platform["db_security_group_id"])]
    if not db_groups:
        return failed(
            name, "the database's security group is unknown", f"re-apply the platform: {where.platform_command()}"
        )
    port = db_port(where, facts)
    try:
        groups = _describe_groups(clients, [*db_groups, *facts.service_groups])
    except (ClientError, BotoCoreError) as exc:
        return failed(name, f"reading security groups failed: {aws_error(exc)}", "check the credentials may read EC2")
    ingress, egress = _reach(
        groups,
        sources=("service", facts.service_groups),
        destinations=("database", db_groups),
        port=port,
        vpc_cidr=_vpc_cidr(where),
    )
    service_groups = ", ".join(facts.service_groups)
    if ingress is None:
        return failed(
            name,
            f"the database's security group ({', '.join(db_groups)}) has no tcp/{port} ingress from the service's "
            f"security group ({service_groups}): the app cannot reach PostgreSQL",
            f"add the rule back by re-applying the app stack (it owns the database rule for this service): "
            f"{where.command('apply', '--yes')}",
        )
    if egress is None:
        return failed(
            name,
            f"the service's security group ({service_groups}) allows no tcp/{port} out to the database",
            f"re-apply the app stack: {where.command('apply', '--yes')}",
        )
    return passed(name, f"{ingress}; {egress}")


def _vpc_cidr(where: Where) -> str | None:
    value = where.platform.get("vpc_cidr_block")
    return str(value) if value else None
