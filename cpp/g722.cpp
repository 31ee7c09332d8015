// g722: to be written
