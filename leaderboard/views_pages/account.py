from leaderboard.page_account import account_page

account_page()
