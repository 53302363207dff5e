"""The XLA CPU setting gan_jax trains fastest under, made by an explicit call.

jaxlib 0.10 computes matmuls and convolutions on XLA's CPU backend with YNNPACK
by default (`--xla_cpu_experimental_ynn_fusion_type` holds `individual_dot` and
`individual_convolution`). On a 2-core AVX2 machine YNNPACK's convolutions ran the
DCGAN train step's convolutions about 1.4x slower than XLA's own (Eigen) ones,
while its matmuls are the faster for large matrices (`benchmarks/README.md`).
`apply_defaults()` therefore appends
`--xla_cpu_experimental_ynn_fusion_type=individual_dot` to `XLA_FLAGS`: YNNPACK for
matmuls only. (Without YNNPACK at all the ring MLP GAN ran ~10% faster, but scanned
and sequential critic updates then rounded differently.)

`import gan_jax` changes nothing; the choice is a call. `python -m experiments.run`
(and sample, evaluate, train_classifier, the benchmarks) make it before JAX starts;
in a notebook, make it before the first JAX computation (XLA reads its flags once,
when the first computation starts its backend; a later call has no effect):

  from gan_jax import xla_cpu
  xla_cpu.apply_defaults()

It leaves `XLA_FLAGS` alone when

* it already sets that flag (yours wins; `=individual_dot,individual_convolution`
  restores jaxlib's default);
* jaxlib is older than 0.10, whose flags this was not measured with.

The flag concerns only the CPU backend; GPU and TPU runs are unaffected.
"""

import os

FLAG = "--xla_cpu_experimental_ynn_fusion_type"
VALUE = "individual_dot"  # YNNPACK for matmuls, not convolutions
MIN_JAXLIB = (0, 10)


def _jaxlib_version() -> tuple[int, ...]:
  import jaxlib.version  # pylint: disable=g-import-not-at-top
  return tuple(int(part) for part in jaxlib.version.__version__.split(".")[:2])


def apply_defaults(environ=os.environ) -> bool:
  """Appends `FLAG=VALUE` to `environ["XLA_FLAGS"]` where the module docstring says.

  Call it before the first JAX computation of the process.

  Returns:
    Whether the flag was appended.
  """
  flags = environ.get("XLA_FLAGS", "")
  if FLAG in flags or _jaxlib_version() < MIN_JAXLIB:
    return False
  environ["XLA_FLAGS"] = f"{flags} {FLAG}={VALUE}".strip()
  return True
