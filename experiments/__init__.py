"""The experiment tier: the runner, sampling and evaluation commands, and the builders
that turn a config into library calls. The only place that reads a config."""
