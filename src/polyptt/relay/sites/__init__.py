"""Many sites, one page: relays joined over NATS (see `polyptt.relay.sites.federation`)."""
