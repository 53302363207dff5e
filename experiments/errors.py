"""The one exception of the tools: a problem the user can fix, said in one line."""


class UserError(Exception):
  """A problem the user can fix; the message is one line naming it and the fix."""
