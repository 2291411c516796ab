"""Check families, one module each. ``base.load_all()`` imports them, registering every check."""

FAMILIES = ("dockerfile", "lint", "dockerignore", "build", "image", "image_leaks", "container", "container_limits",
            "container_ports", "container_security", "provenance", "registry", "daemon", "network", "compose",
            "compose_file",
            "dockerfile_instructions", "container_namespaces", "container_mounts", "container_exec")
