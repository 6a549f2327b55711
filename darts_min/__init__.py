"""darts-min: DARTS (Liu et al., ICLR 2019) with a choice of optimizer for w and for alpha.

Without torch, importing the package (the scripts do so first) is one line that says how to install it."""
try:
    import torch  # noqa: F401
except ImportError as e:  # the versions of setup.cfg's install_requires and of README's set-up (test_docs.py)
    raise SystemExit(f'darts-min needs torch ({e}): pip install torch==2.14.1 torchvision==0.29.1 -e ".[test]" '
                     '(README, "Set-up on a fresh machine")') from None
