"""The site's intervals and verdict: `qa.stats`' own, under the names the site modules import.

This module used to re-implement them with cached quantiles because `qa.stats` asked scipy for a
quantile (or a whole binomial test) on every call; `qa.stats` now caches its quantiles itself,
so there is nothing site-specific left. New code imports from `qa.stats`; these names stay for
sitegen.frame, sitegen.context_leads, sitegen.analysis and tests/site_reference.py.
"""

from qa.stats import mean_interval, verdict, wilson_interval

__all__ = ["mean_interval", "verdict", "wilson_interval"]
