"""Who is calling the API: plain data that the use cases check jobs and quotas against."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """Who is calling: the JWT subject that API Gateway's authorizer verified (None on an open stack) and the
    source IP (what an open stack's quota counts by)."""

    subject: str | None
    source_ip: str

    @property
    def quota_key(self) -> str:
        if self.subject:
            return f"sub:{self.subject}"
        try:
            address = ipaddress.ip_address(self.source_ip)
        except ValueError:
            return f"ip:{self.source_ip}"
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.version == 6:  # one subscriber holds a whole /64: counted by address, each would get a quota
            return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
        return f"ip:{address}"
