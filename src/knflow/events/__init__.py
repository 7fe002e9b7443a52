"""CloudEvents: type names, the codec, and the Kogito event bodies for the Data Index."""
