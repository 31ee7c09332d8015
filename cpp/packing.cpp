// packing: to be written
