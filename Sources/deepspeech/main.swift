print("deepspeech: not built yet")
