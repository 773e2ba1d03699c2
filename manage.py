#!/usr/bin/env python
"""Django's command-line utility for Gongzhi (the `gongzhi` console script is the same thing)."""

from gongzhi.cli import main

if __name__ == "__main__":
    main()
