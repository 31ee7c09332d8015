// g726: to be written
