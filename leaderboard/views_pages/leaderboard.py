from leaderboard.page_table import leaderboard_page

leaderboard_page()
