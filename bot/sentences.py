"""Every fixed sentence a user can see, in one place so they read alike and can be translated.

Adapters import what they show from here too. Sentences with blanks are `str.format` templates;
the field names say what goes in. A count goes in through `plural`, so one is never "1 messages".
"""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """`count` with its noun: "1 message", "2 messages", "1,024 tokens"."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


# -- answers ---------------------------------------------------------------------------------
INTERRUPTED_MARK = "\n\n*(reply interrupted)*"
#: A user's `stop` (or Stop button): ends the text shown, and is remembered with it.
STOPPED_MARK = "\n\n*(stopped)*"
STOPPED_EMPTY = "Stopped before I had written anything."
STOPPED_BEFORE_ANSWER = "I was stopped before I could answer; please ask again."
EMPTY_ANSWER = "Qwen sent back an empty answer; please try again."
INTERNAL_ERROR = "Something went wrong on my side; please try again."
MEMORY_UNAVAILABLE = "I can't reach my memory right now; please try again in a moment."
MESSAGE_CUT = ("Your message was longer than my {budget:,}-token memory budget, so I read only its "
               "beginning.")
RATE_LIMITED = "You're sending messages faster than I can keep up with; please wait a minute."
OVER_USER_BUDGET = "You've used your daily budget of {limit:,} tokens; it resets at 00:00 UTC, in {wait}."
OVER_CONVERSATION_BUDGET = ("This conversation has used its daily budget of {limit:,} tokens; it resets "
                            "at 00:00 UTC, in {wait}.")
OVER_SPACE_BUDGET = ("This {space} has used its daily budget of {limit:,} tokens; it resets at 00:00 UTC, "
                     "in {wait}.")
HOURS, MINUTES = "{n} h", "{n} min"
#: What a platform calls the space a conversation belongs to (Discord's servers are the default).
SPACE_WORDS = {"slack": "workspace"}
EMPTY_MENTION = "Ask me something after the mention, for example: what can you help with?"
NOT_HERE = "I'm not enabled for you here."
ALREADY_ANSWERED = "I have answered this already."
COMMAND_FAILED = "That command failed on my side; please try again."

# -- model failures (bot/llm.py maps each failure kind to one) ----------------------------
QWEN_AUTH = "Qwen rejected the bot's API key (401), so I can't answer; the bot's operator needs to fix it."
QWEN_FORBIDDEN = ("Qwen refused access (403): the bot's API key may not use {model!r}; the bot's operator "
                  "needs to grant it or pick another model.")
QWEN_RATE_LIMITED = "Qwen is rate-limiting me right now; please try again in a minute."
QWEN_CONTENT_REFUSED = "Qwen's content filter refused this message, so I can't answer it."
QWEN_UNKNOWN_MODEL = "The model {model!r} isn't available on this Qwen endpoint; pick another one."
QWEN_ARREARAGE = "The Qwen account behind this bot is out of credit; the bot's operator needs to top it up."
QWEN_TIMEOUT = "Qwen took too long to answer; please try again."
QWEN_UNREACHABLE = "I can't reach Qwen right now; please try again shortly."
QWEN_SERVER_ERROR = "Qwen had an internal error; please try again."
QWEN_BAD_STREAM = "Qwen sent an answer I couldn't read; please try again."
QWEN_BAD_REQUEST = "Qwen couldn't process this request ({detail})."
QWEN_UNKNOWN = "Something went wrong while asking Qwen; please try again."

# -- attachments -----------------------------------------------------------------------------
IMAGE_TOO_LARGE = "Skipped {name}: images over 10 MB are not read."
TEXT_TOO_LARGE = "Skipped {name}: text files over 100 KB are not read."
UNREADABLE_KIND = "Skipped {name}: I can read images and text files only."
DOWNLOAD_FAILED = "Skipped {name}: I could not download it."

# -- commands --------------------------------------------------------------------------------
RESET_DONE = "Done: I forgot this conversation ({removed}). Persona and model stay as they were."
PERSONA_SHOWN = "This conversation's persona:\n> {persona}"
PERSONA_DEFAULT = "This conversation uses the default persona. Set one with `persona <text>`."
PERSONA_CLEARED = "Persona cleared; back to the default."
PERSONA_TOO_LONG = "That persona is {length:,} characters; the limit is {limit:,}."
PERSONA_SET = "Persona set for this conversation."
MODEL_SHOWN = "Model: `{model}`. Available: {available}."
MODEL_UNKNOWN = "Unknown model `{model}`. Available: {available}."
MODEL_SET = "This conversation now uses `{model}`."
MEMORY_EMPTY = "I remember nothing of this conversation yet."
MEMORY_TURNS = "I remember {turns} ({tokens})"
MEMORY_FOLDED = "; the oldest {folded:,} of them folded into a summary"
MEMORY_BUDGET = ". Budget: {budget:,} tokens."
MEMORY_SUMMARY = "\nSummary: {summary}"
MEMORY_RETENTION = " I keep messages for {days} days, then delete them."
MEMORY_RETENTION_DAY = " I keep messages for one day, then delete them."
TOKENS = "{total} ({prompt:,} in, {completion:,} out)"
USAGE_CONVERSATION = "This conversation: {today} today, {total} in total."
USAGE_SPACE = "This {space}: {today} today, {total} in total."
USAGE_USER = "You: {today} today."
USAGE_BUDGETS = "Daily budgets left: {left}; they reset at 00:00 UTC, in {wait}."
BUDGET_LEFT_USER = "yours {left:,} of {limit:,} tokens"
BUDGET_LEFT_CONVERSATION = "this conversation's {left:,} of {limit:,}"
BUDGET_LEFT_SPACE = "this {space}'s {left:,} of {limit:,}"
FORGOTTEN = ("Deleted {removed} of yours from my memory everywhere on {platform}, "
             "with the summaries that could quote them.")
MODE_SHOWN = "Channel mode: `{mode}`."
MODE_INVALID = ("Channel mode must be `mention` (answer when addressed), `always` (answer everything) or "
                "`thread` (answer each question in a thread of its own).")
MODE_ALWAYS = "I will now answer every message in this channel."
MODE_MENTION = "I will now answer only when addressed in this channel."
MODE_THREAD = ("I will now answer each mention in this channel in a thread of its own, and every message "
               "there.")
MODE_IN_DM = "In DMs I always answer; channel mode applies to channels."
COMMANDS_HEADING = "Commands:"
UNKNOWN_COMMAND = "There is no command `{command}`; `/help` lists them."
STOP_DONE = "Stopped {count}."
STOP_NOTHING = "Nothing I am writing here is yours to stop."
STOP_ENDED = "That answer has already ended."
STOP_NOT_YOURS = "Only the person who asked, or a moderator here, can stop this answer."
FEEDBACK_THANKS = "Thanks for the feedback."
USAGE_FEEDBACK = "Feedback on my answers here: 👍 {up} / 👎 {down}."
THINKING_SHOWN = "Thinking is **{state}** in this conversation (model `{model}`)."
THINKING_SET = "Thinking is now **{state}** in this conversation."
THINKING_ALWAYS = " Note: `{model}` always thinks, whatever this setting says."
THINKING_NEVER = " Note: `{model}` does not think; choose a thinking model (e.g. a Qwen3 one) with `model`."
SEARCH_SHOWN = "Web search is **{state}** in this conversation."
SEARCH_SET = "Web search is now **{state}** in this conversation (each search is billed)."
SEARCH_UNAVAILABLE = "Web search is not available on this Qwen endpoint (only on Alibaba Cloud Model Studio)."
ON_OFF = "Say `on` or `off`."
REASONING_SHOWN = "Reasoning behind my last answer here:\n{text}"
REASONING_NONE = ("I have no reasoning to show for the last answer here (it did not think, or it was "
                  "too long ago).")
REASONING_GONE = "That answer's reasoning is no longer kept."
REASONING_CUT = "\n… (reasoning cut here)"
STATUS_THINKING = "Thinking…"
STATUS_SEARCHING = "Searching the web…"
STATUS_SECONDS = "{activity} {seconds} s"
SLACK_STATUS_SEARCHING = "is searching the web…"
SHOW_REASONING = "Show reasoning"

# -- platform idioms -------------------------------------------------------------------------
# Discord
NEEDS_MANAGE = "You need the **Manage Channels** permission to change my settings here."
ASK_HINT = "Tell me what to ask, for example: `/ask what can you help with?`"
ASK_HELP = "Ask Qwen something"
ASK_PROMPT_HELP = "What to ask"
THREAD_NEEDS_PERMISSION = ("I can't open a thread for your question here: I need the **Create Public "
                           "Threads** and **Send Messages in Threads** permissions in this channel.")
THREAD_NAME_FALLBACK = "Question from {name}"
STOP_BUTTON = "Stop"
FEEDBACK_GOOD = "Good answer"
FEEDBACK_BAD = "Bad answer"
# Slack
SLACK_EMPTY_MENTION = "Hi! Ask me anything: mention me with a question, or use `/qwen <question>`."
SLACK_NOT_AVAILABLE = "I'm not available here."
SLACK_CANNOT_POST = ("I can't post in this conversation. In a channel, invite me with `/invite @{name}` and "
                     "ask again; in a DM between other people, mention me in a channel or DM me instead.")
SLACK_POST_FAILED = "I couldn't post your question here ({code}); please try again."
SLACK_ADMINS_ONLY = "Only workspace admins can change this channel's settings."
SLACK_ADMINS_OR_CREATOR = "Only workspace admins or this channel's creator can change its settings."
SLACK_ASK_HOW = "Ask with `{prefix}<question>` or mention me."
SLACK_HELP_LINE = "`{prefix}help`: this list"
SLACK_QUESTION_POSTED = "**{name}** asked: {question}"
# Slack's agent view (the app's Messages tab)
SLACK_AGENT_GREETING = ("Hi! Ask me anything here. I can also read the channel you're viewing: open it and "
                        "ask me to summarise this channel.")
SLACK_PROMPTS_TITLE = "Try asking"
SLACK_VIEWING_UNKNOWN = ("I don't know which channel you're viewing; open the channel with me beside it and "
                         "ask again.")
SLACK_VIEWING_NOT_ALLOWED = "I'm not enabled in #{name}, so I can't read it for you."
SLACK_VIEWING_PRIVATE = "I don't read direct messages between people, so I can't summarise that conversation."
SLACK_VIEWING_BOT_OUT = ("I'm not in #{name}, so I can't read it; invite me with `/invite @{bot}` and "
                         "ask again.")
SLACK_VIEWING_USER_OUT = "You're not a member of #{name}, so I won't read it for you."
SLACK_VIEWING_RATE_LIMITED = "Slack lets me read channels only now and then; please ask again in a minute."
SLACK_VIEWING_FAILED = "I couldn't read #{name} just now ({code}); please try again."
SLACK_VIEWING_EMPTY = "#{name} has no recent messages I can read."
TERMINAL_NO_CHANNEL_MODE = ("Channel modes (mention, always, thread) are for Discord and Slack channels; "
                            "here I answer every line, in this one conversation.")
TERMINAL_QUIT = "`/quit`: leave (or Ctrl-D); Ctrl-C stops an answer, a second Ctrl-C leaves"
TERMINAL_GREETING = "Chatting in #{channel} with {model}. /help for commands, /quit or Ctrl-D to leave."
