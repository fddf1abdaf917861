"""Commerce platforms' adapters: a shop's customers and orders (Shopify today), behind
`services.ports.OrderDirectory`."""
