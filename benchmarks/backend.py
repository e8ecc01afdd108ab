"""What the active Keras backend runs on: its name, the GPUs it sees and their peak
memory. Every task asks here, so a test can stand CPUs in for GPUs in one place."""


def backend():
    """The active Keras backend ("tensorflow", "jax", "torch")."""
    import keras

    return keras.config.backend()


def accelerators():
    """The GPUs the active Keras backend sees (a list; empty on a CPU-only machine)."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.config.list_physical_devices("GPU")
    if name == "jax":
        import jax

        return [d for d in jax.devices() if d.platform == "gpu"]
    if name == "torch":
        import torch

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return []


def device_memory():
    """{"peak_device_mb": high-water memory of the first GPU so far, in MiB} under the
    active Keras backend, or {} where no GPU is visible or the backend cannot say."""
    devices = accelerators()
    if not devices:
        return {}
    try:
        if backend() == "tensorflow":
            import tensorflow as tf

            peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        elif backend() == "jax":
            peak = devices[0].memory_stats()["peak_bytes_in_use"]
        else:
            import torch

            peak = torch.cuda.max_memory_allocated(0)
    except (KeyError, TypeError, ValueError, RuntimeError):
        return {}
    return {"peak_device_mb": peak / 2**20}
