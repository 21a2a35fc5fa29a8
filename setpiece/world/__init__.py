"""World: the procedural building and its surroundings."""
