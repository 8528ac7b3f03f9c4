"""Tests of the app package: settings, packs, migrations, operator commands, workflow runtime and workers."""
