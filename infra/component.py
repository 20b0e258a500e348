"""What every component of the program shares: children named after their component."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

import pulumi

_Args = TypeVar("_Args")


class Component(pulumi.ComponentResource):
    """A component whose children are named after it (``storage-uploads`` in ``storage``). A stack deployed when
    the children had bare names (``uploads``) keeps them: each child is aliased to its former name, so an update
    renames nothing in AWS and replaces nothing."""

    def __init__(self, type_name: str, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        self._prefix = f"{name}-"
        self._former: dict[str, str] = {}

        def keep_former_name(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
            former = self._former.get(args.name)
            if args.resource is self or former is None or former == args.name:
                return None
            alias = pulumi.ResourceOptions(aliases=[pulumi.Alias(name=former)])
            return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(args.opts, alias))

        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[keep_former_name]))
        super().__init__(type_name, name, None, opts)

    def named(self, suffix: str, former: str | None = None) -> str:
        """The name of this component's child ``suffix``; ``former``: its name before, when it was not ``suffix``."""
        name = self._prefix + suffix
        self._former[name] = former or suffix
        return name

    def child(self, depends_on: list[Any] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on or [])


def args_from(args_type: type[_Args], config: Any, **given: Any) -> _Args:
    """A component's args: ``given``, and every other field taken from the stack config field of the same name
    (a field that is neither is a mistake, not a default)."""
    names = {f.name for f in fields(args_type)} - given.keys()  # type: ignore[arg-type]
    missing = sorted(name for name in names if not hasattr(config, name))
    if missing:
        raise TypeError(f"{args_type.__name__}: {', '.join(missing)} neither given nor a stack setting")
    return args_type(**given, **{name: getattr(config, name) for name in names})
