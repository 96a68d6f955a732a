from leaderboard.page_moderation import moderation_page

moderation_page()
