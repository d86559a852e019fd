"""SynthFaces: procedural 3D heads with CelebAMask-HQ labels, rendered from many known viewpoints."""
