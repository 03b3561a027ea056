"""Linux sandbox: namespaces, Landlock, seccomp, run through a single-threaded zygote."""
