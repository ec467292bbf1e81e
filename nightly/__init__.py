"""The nightly run: config, lock, manifest and stages from sales to orders and price labels."""
