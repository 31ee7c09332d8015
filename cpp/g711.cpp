// g711: to be written
