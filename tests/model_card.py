"""The model card's reference strings and token ids (the seed card's assertions), in one place."""

HELLO_TEXT = "GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant:"
HELLO_IDS = [1, 420, 6316, 28781, 3198, 3123, 1247, 28747, 22557, 32000,
             420, 6316, 28781, 3198, 3123, 21631, 28747]

MULTI_TURN_TEXT = (
    "GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant: Hi<|end_of_turn|>"
    "GPT4 Correct User: How are you today?<|end_of_turn|>GPT4 Correct Assistant:"
)
MULTI_TURN_IDS = [1, 420, 6316, 28781, 3198, 3123, 1247, 28747, 22557, 32000, 420, 6316, 28781,
                  3198, 3123, 21631, 28747, 15359, 32000, 420, 6316, 28781, 3198, 3123, 1247,
                  28747, 1602, 460, 368, 3154, 28804, 32000, 420, 6316, 28781, 3198, 3123, 21631,
                  28747]

CODE_TEXT = "Code User: Implement quicksort using C++<|end_of_turn|>Code Assistant:"
CODE_IDS = [1, 7596, 1247, 28747, 26256, 2936, 7653, 1413, 334, 1680, 32000, 7596, 21631, 28747]

CARD = [(HELLO_TEXT, HELLO_IDS), (MULTI_TURN_TEXT, MULTI_TURN_IDS), (CODE_TEXT, CODE_IDS)]
