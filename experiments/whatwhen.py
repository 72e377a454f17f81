"""The "what and when" prediction experiment, as a script.

One heterogeneous Izhikevich reservoir, four cues with their own delays and outcome
probabilities, one cue's delay and another's probability switching midway; the three-factor
rule against FORCE (with and without resets) and ridge regression, on the same trials.

Usage::

    python experiments/whatwhen.py --out runs/whatwhen          # default run, a few minutes
    python experiments/whatwhen.py --quick --out runs/ww-quick  # under a minute
    python experiments/whatwhen.py --resume --out runs/whatwhen # after an interruption
    spikesub plot runs/whatwhen                                  # redraw the figures

Options: as ``spikesub whatwhen``: one per setting of the configuration
(``spikesub.whatwhen.config.WhatWhenConfig``: --seed, --n-neurons, --backend, --attention,
--n-blocks, --tf-learning-rate, ...; ``--help`` lists them), and --quick, --out, --resume,
--threads, --memory-budget, --quiet.
"""

from __future__ import annotations

import sys

from spikesub.whatwhen.cli import main

if __name__ == "__main__":
    sys.exit(main())
