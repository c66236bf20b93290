# node-gyp entry point. lmzip is built with cmake-js (CMakeLists.txt); this file
# exists so that the node-gyp-build contract holds: `node-gyp rebuild` (what
# node-gyp-build and `npm rebuild` fall back to without a matching prebuild)
# runs the same cmake-js build and leaves build/Release/lmzip.node.
{
  "targets": [
    {
      "target_name": "lmzip_cmake",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/lmzip.node"],
          "action": ["node", "scripts/build-native.mjs"]
        }
      ]
    }
  ]
}
