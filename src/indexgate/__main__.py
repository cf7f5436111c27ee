from indexgate.cli import main

raise SystemExit(main())
