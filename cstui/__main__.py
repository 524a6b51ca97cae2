import sys

from cstui.cli import main

sys.exit(main())
