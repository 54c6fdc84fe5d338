"""`eqsat calibrate`: microbenchmarks that measure the cost model's parameters on the GPU at hand.

    probes.py       what to launch (kernels.py) and the work each launch does, sized for the device
    run.py          launch and time every probe on the GPU (torch + triton only), results as JSON
    fit.py          measured times -> parameter values, each with the measurement it came from
    params_file.py  write the values into a costmodels/params/<device>.toml text (measured keys leave
                    `assumed`, each key's comment names its probe)

Imports torch/triton/stdlib only (GPU-safe: no xdsl, egglog, z3).
"""
