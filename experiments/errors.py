"""The one exception of the tools: a problem the user can fix, said in one line."""


class UserError(Exception):
  """A problem the user can fix; the message is one line naming it and the fix."""


def require(condition: bool, field: str, value, requirement: str) -> None:
  """Raises `UserError` "FIELD=VALUE is impossible: it must be REQUIREMENT" unless `condition`."""
  if not condition:
    raise UserError(f"{field}={value} is impossible: it must be {requirement} "
                    f"(--config.{field}=...)")
