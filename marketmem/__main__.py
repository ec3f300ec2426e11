from marketmem.cli import main

raise SystemExit(main())
