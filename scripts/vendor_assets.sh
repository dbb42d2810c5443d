#!/usr/bin/env bash
# Copy the pinned front-end packages (package.json) from npm into portal/static/vendor.
# The copies are committed, so running the portal never needs npm or a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund --ignore-scripts >/dev/null
dest=portal/static/vendor
rm -rf "$dest" && mkdir -p "$dest"
cp node_modules/bootstrap/dist/css/bootstrap.min.css "$dest/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js "$dest/"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/"
cp node_modules/chart.js/dist/chart.umd.min.js "$dest/chart.umd.min.js"
cp node_modules/bootstrap/LICENSE "$dest/LICENSE.bootstrap"
cp node_modules/htmx.org/LICENSE "$dest/LICENSE.htmx"
cp node_modules/chart.js/LICENSE.md "$dest/LICENSE.chartjs"
# Drop sourceMappingURL comments: the maps are not vendored, and browsers would 404 on them.
sed -i '/sourceMappingURL=/d' "$dest"/*.js "$dest"/*.css
ls -la "$dest"
