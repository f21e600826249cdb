#!/usr/bin/env bash
# The whole permessage-deflate part of the Autobahn|Testsuite (sections 12 and 13, 216
# cases a role) against ws-tokio, as a server and as a client: about 45 minutes, almost
# all of it the suite's own Python 2 deflate. Run it before landing a change to the
# compression code; CI runs a quick subset of the same cases on every adapter
# (`.ci/autobahn.sh NAME SERVER CLIENT compression`). The other adapters share ws-proto's
# deflate code, so the subset covers them.
#
#   autobahn/compression-full.sh                   # compare with the expected results
#   UPDATE_EXPECTED=1 autobahn/compression-full.sh # record them
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p ws-tokio --features deflate --examples
.ci/autobahn.sh ws-tokio target/release/examples/autobahn_server \
    target/release/examples/autobahn_client compression-full
