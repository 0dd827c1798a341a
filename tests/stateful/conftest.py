"""Hypothesis profiles for the stateful tests.

- `ci` (default, inside `make test`): a few dozen examples of up to 25 steps.
- `audit` (`make audit`): at least 1,000 examples of 50 steps; or, with AUDIT_SECONDS=N, as
  many examples as fit in N seconds.

Select with HYPOTHESIS_PROFILE=audit. A failure prints the minimal sequence of rule calls
that reproduces it, plus a @reproduce_failure blob.
"""

import os

from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.register_profile("ci", max_examples=int(os.environ.get("CI_EXAMPLES", "15")), stateful_step_count=30, **_COMMON)
settings.register_profile(
    "audit",
    max_examples=int(os.environ.get("AUDIT_EXAMPLES", "1000")),
    stateful_step_count=50,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    **_COMMON,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
