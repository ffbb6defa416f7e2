{
  "targets": [
    {
      "target_name": "ferry_fs",
      "sources": ["native/ferry_fs.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"] }
    }
  ]
}
