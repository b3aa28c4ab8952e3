#!/usr/bin/env python
from xinlian.cli import main

if __name__ == "__main__":
    main()
