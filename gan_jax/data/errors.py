"""The one exception the data package raises for problems a user can fix."""


class DataError(ValueError):
  """Data is missing, malformed or asked for in a way that cannot work.

  The message is one line that names the problem and the fix, so that a runner
  can print it as is and exit with status 2.
  """
