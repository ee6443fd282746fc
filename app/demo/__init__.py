"""The demo: targets that behave like the PRD's five Verify services (`slamon targets`), started by
`slamon up` and pointed at by the default catalog (services.toml)."""
