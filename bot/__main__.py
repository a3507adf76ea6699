from bot.cli import script

script()
