"""Physics solvers: Voronoi fracture, the rigid-body world, ballistic debris."""
