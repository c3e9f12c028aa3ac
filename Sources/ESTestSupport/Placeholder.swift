import ESKernels
